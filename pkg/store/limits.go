package store

// Limits bound a store's tree, so that a stray large file or a runaway
// directory is a clear error rather than an out-of-memory control plane.
// Zero fields take the defaults.
type Limits struct {
	MaxFiles     int   // default 10,000
	MaxFileSize  int64 // default 4 MiB (the Consul store: 512 KiB, Consul's own limit)
	MaxTotalSize int64 // default 64 MiB
}

// WithDefaults fills in zero fields.
func (l Limits) WithDefaults() Limits {
	if l.MaxFiles <= 0 {
		l.MaxFiles = 10000
	}
	if l.MaxFileSize <= 0 {
		l.MaxFileSize = 4 << 20
	}
	if l.MaxTotalSize <= 0 {
		l.MaxTotalSize = 64 << 20
	}
	return l
}
