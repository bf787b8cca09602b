// @cycles-guard/redis/testing: a throwaway redis-server (or Redis Cluster) for tests and benchmarks.

export {
  type RedisClusterHandle,
  type RedisClusterOptions,
  startRedisCluster,
} from './redis-cluster.ts';
export { type RedisServer, type RedisServerOptions, startRedisServer } from './redis-server.ts';
