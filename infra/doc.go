// Package infra holds what deploying and running Sunset needs besides template.yaml: the local
// stack (infra/local), the demo (infra/demo), the benchmarks (infra/bench), and the tests that
// keep template.yaml and the code in step.
package infra
