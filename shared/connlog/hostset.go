package connlog

// hostSet is the campaign's legacy hostnames as quick looks up a host or HH value: a small
// open-addressing table, hashed by a value's length and three of its bytes. A campaign has a
// handful of hostnames, and the values a log holds differ from them in those bytes, so a
// lookup is a comparison or two. A Go map hashed every byte first: quick's largest cost after
// splitting the line.
type hostSet struct {
	slots []string // a power of two of them, at least four times the names; "" is empty
}

func newHostSet(names map[string]string) hostSet {
	n := 16
	for n < 4*len(names) {
		n *= 2
	}
	s := hostSet{slots: make([]string, n)}
	for _, name := range names {
		i := hostHash(name) & uint32(n-1)
		for s.slots[i] != "" {
			i = (i + 1) & uint32(n-1)
		}
		s.slots[i] = name
	}
	return s
}

func hostHash[T string | []byte](b T) uint32 {
	if len(b) == 0 {
		return 0
	}
	return uint32(len(b))*0x9E3779B1 ^ uint32(b[0])<<11 ^ uint32(b[len(b)/2])<<5 ^ uint32(b[len(b)-1])
}

// get is the hostname b is (the set's own copy), or "".
func (s hostSet) get(b []byte) string {
	mask := uint32(len(s.slots) - 1)
	for i := hostHash(b) & mask; s.slots[i] != ""; i = (i + 1) & mask {
		if s.slots[i] == string(b) {
			return s.slots[i]
		}
	}
	return ""
}
