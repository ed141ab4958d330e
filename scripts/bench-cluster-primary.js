'use strict';
// Node's own cluster primary for scripts/bench-cluster.sh:
//   node bench-cluster-primary.js WORKERS rr|none APP [ARGS...]
// forks WORKERS workers of APP and prints "ready" once all listen.
const cluster = require('cluster');
const [workers, sched, exec, ...args] = process.argv.slice(2);
cluster.schedulingPolicy = sched === 'none' ? cluster.SCHED_NONE : cluster.SCHED_RR;
cluster.setupPrimary({ exec, args });
let listening = 0;
for (let i = 0; i < +workers; i++) {
  cluster.fork().once('listening', () => {
    if (++listening === +workers) console.log('ready');
  });
}
process.on('SIGTERM', () => cluster.disconnect(() => process.exit(0)));
