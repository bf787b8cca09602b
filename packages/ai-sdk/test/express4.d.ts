// `express4` is a dev alias of express@4 for running the suite on both majors; its API is typed like 5's.
declare module 'express4' {
  import type express from 'express';

  const express4: typeof express;
  export default express4;
}
