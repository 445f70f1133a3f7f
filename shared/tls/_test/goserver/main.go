// A Go crypto/tls echo server for the TLS client tests: what an OpenZiti edge router runs.
// Standard library only. Prints "LISTEN <port>" once listening on 127.0.0.1.
package main

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
)

// corruptSigner signs correctly and then flips one bit, so the CertificateVerify is invalid.
type corruptSigner struct{ crypto.Signer }

func (s corruptSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	sig, err := s.Signer.Sign(r, digest, opts)
	if err == nil && len(sig) > 10 {
		sig[len(sig)-5] ^= 0x01
	}
	return sig, err
}

func main() {
	certFile := flag.String("cert", "", "server certificate chain PEM")
	keyFile := flag.String("key", "", "server key PEM")
	clientCA := flag.String("clientca", "", "CA PEM for client certificates (required and verified)")
	curves := flag.String("curves", "", "comma list of X25519,P256")
	badSig := flag.Bool("badsig", false, "corrupt the CertificateVerify signature")
	flag.Parse()

	cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if *badSig {
		cert.PrivateKey = corruptSigner{cert.PrivateKey.(crypto.Signer)}
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
	}
	if *clientCA != "" {
		pem, err := os.ReadFile(*clientCA)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	for _, c := range strings.Split(*curves, ",") {
		switch c {
		case "X25519":
			cfg.CurvePreferences = append(cfg.CurvePreferences, tls.X25519)
		case "P256":
			cfg.CurvePreferences = append(cfg.CurvePreferences, tls.CurveP256)
		}
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("LISTEN %d\n", ln.Addr().(*net.TCPAddr).Port)
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		go func(c net.Conn) {
			defer c.Close()
			tc := c.(*tls.Conn)
			if err := tc.Handshake(); err != nil {
				fmt.Printf("HANDSHAKE ERROR %v\n", err)
				return
			}
			st := tc.ConnectionState()
			fmt.Printf("CONNECTED %x %d\n", st.CipherSuite, len(st.PeerCertificates))
			io.Copy(c, c)
		}(conn)
	}
}
