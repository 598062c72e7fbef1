// Package store holds what every user of the Sunset table shares: the table's name and index
// names, key construction, pagination, batched writes that retry unprocessed items, and the
// classification of conditional-write failures. The items themselves belong to the domain
// packages (findings, directory, ledger, ...); docs/data-model.md lists them all.
package store
