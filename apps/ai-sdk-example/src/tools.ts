import { type ToolSet, tool } from 'ai';
import { z } from 'zod';

/** The chat's tools: deterministic stand-ins, so runs are repeatable. */
export const chatTools: ToolSet = {
  getWeather: tool({
    description: 'Current weather of a city.',
    inputSchema: z.object({ city: z.string().describe('City name, e.g. Lisbon') }),
    execute: async ({ city }) => {
      const seed = [...city].reduce((sum, char) => sum + char.charCodeAt(0), 0);
      return { city, temperatureC: 12 + (seed % 15), conditions: seed % 2 === 0 ? 'sunny' : 'cloudy' };
    },
  }),
};
