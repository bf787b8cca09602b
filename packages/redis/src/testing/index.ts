// @cycles-guard/redis/testing: a throwaway redis-server for tests and benchmarks.

export { type RedisServer, type RedisServerOptions, startRedisServer } from './redis-server.ts';
