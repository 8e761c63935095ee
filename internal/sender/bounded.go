package sender

import (
	"fmt"
	"io"
	"net/http"
)

// BoundedTransport returns base (http.DefaultTransport when nil) with every
// response body limited to MaxResponseBytes: reading past it fails with an
// error saying so. It is for SDKs that read a whole body themselves (the
// Google and AWS clients read error bodies with io.ReadAll), whose answers
// to this library's requests are a few KiB; a peer sending more, or an
// endless body, must not grow the heap or hold the request until its
// timeout.
func BoundedTransport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return boundedTransport{base: base}
}

type boundedTransport struct{ base http.RoundTripper }

func (b boundedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := b.base.RoundTrip(r)
	if resp != nil && resp.Body != nil {
		resp.Body = &boundedBody{ReadCloser: resp.Body, left: MaxResponseBytes}
	}
	return resp, err
}

// ErrAnswerTooLarge is what reading a bounded body past the bound gives.
var ErrAnswerTooLarge = fmt.Errorf("the answer is larger than %d bytes; not read further", MaxResponseBytes)

// boundedBody reads up to left bytes, then fails with ErrAnswerTooLarge if
// the peer has more.
type boundedBody struct {
	io.ReadCloser
	left int64
}

func (b *boundedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		var one [1]byte
		if n, err := b.ReadCloser.Read(one[:]); n == 0 {
			return 0, err // the body ended exactly at the bound
		}
		return 0, ErrAnswerTooLarge
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	return n, err
}

// CloseIdleConnections closes the idle connections of the base transport,
// so that http.Client.CloseIdleConnections reaches it through the wrapper.
func (b boundedTransport) CloseIdleConnections() {
	if c, ok := b.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
