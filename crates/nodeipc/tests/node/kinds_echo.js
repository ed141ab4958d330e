'use strict';
// The Node child of tests/advanced.rs
// `current_node_kinds_survive_a_rust_parent_echo` (serialization
// 'advanced'): sends each case of current_kinds.js, one at a time, checks
// the Rust parent's echo of it, and ends with
// {report: true, sent: n, bad: [{name, why}]}.
const { currentKinds, echoDiff } = require('./current_kinds.js');

const cases = currentKinds();
const bad = [];
let i = 0;
process.on('message', (got) => {
  const why = echoDiff(cases[i], got);
  if (why !== null) bad.push({ name: cases[i][0], why });
  i += 1;
  if (i < cases.length) process.send(cases[i][1]);
  else process.send({ report: true, sent: cases.length, bad });
});
process.send(cases[0][1]);
