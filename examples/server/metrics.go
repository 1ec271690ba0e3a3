package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/handlers"
)

// metricsFlags configure the Prometheus endpoint: off unless addr is given,
// and on loopback only unless public is set, since the metrics tell who
// signs in how often.
type metricsFlags struct {
	addr   string
	public bool

	// provider is where the Manager and the handlers record, set by
	// start; nil while the endpoint is off (the global provider then,
	// which records nothing unless the process sets one).
	provider *sdkmetric.MeterProvider
}

func (f *metricsFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.addr, "metrics-addr", "", "serve Prometheus metrics at http://`ADDR`/metrics (default: off); a loopback address unless -metrics-public")
	fs.BoolVar(&f.public, "metrics-public", false, "allow -metrics-addr on an address beyond this machine")
}

// check refuses a metrics address beyond loopback unless it was meant.
func (f *metricsFlags) check() error {
	if f.addr == "" {
		return nil
	}
	host, _, err := net.SplitHostPort(f.addr)
	if err != nil {
		return fmt.Errorf("-metrics-addr %q: %w", f.addr, err)
	}
	if f.public || host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("-metrics-addr %q is not a loopback address: add -metrics-public to serve the metrics beyond this machine", f.addr)
}

// managerOptions are the Manager's options for f.
func (f *metricsFlags) managerOptions() []revoke.Option {
	if f.provider == nil {
		return nil
	}
	return []revoke.Option{revoke.WithMeterProvider(f.provider)}
}

// handlerOptions are the handlers' options for f.
func (f *metricsFlags) handlerOptions() []handlers.Option {
	if f.provider == nil {
		return nil
	}
	return []handlers.Option{handlers.WithMeterProvider(f.provider)}
}

// start sets up the MeterProvider and its Prometheus exporter on a registry
// of their own, and serves it at f.addr until ctx is done. It does nothing
// when the endpoint is off. The returned func stops the endpoint.
func (f *metricsFlags) start(ctx context.Context, logger *slog.Logger) (stop func(), err error) {
	if f.addr == "" {
		return func() {}, nil
	}
	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	f.provider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, MaxHeaderBytes: maxHeaderBytes,
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics endpoint stopped", "err", err)
		}
	}()
	logger.Info("metrics listening", "addr", ln.Addr().String(), "url", "http://"+ln.Addr().String()+"/metrics")
	return func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		_ = f.provider.Shutdown(sctx)
	}, nil
}
