package metrics_test

import (
	"testing"

	"github.com/cajonfarm/cajon/host/metrics"
)

func TestDeviceInfoPerIdentity(t *testing.T) {
	m := metrics.New()
	m.Worker("render-07-1").Device([]string{"0"}, "OPTIX")
	m.Worker("render-07-2").Device([]string{"1", "GPU-8f6e"}, "CUDA")
	m.Worker("render-07-3").Device(nil, "CPU")
	m.Worker("render-07-files").Device(nil, "")
	samples := scrape(t, serve(t, m.Handler()))
	tests := []struct {
		worker, gpu, device string
	}{
		{"render-07-1", "0", "OPTIX"},
		{"render-07-2", "1,GPU-8f6e", "CUDA"},
		{"render-07-3", "", "CPU"},
		{"render-07-files", "", ""},
	}
	for _, tt := range tests {
		labels := []string{"worker", tt.worker, "gpu", tt.gpu, "cycles_device", tt.device}
		if got, ok := sample(samples, "cajon_worker_device_info", labels...); !ok || got != 1 {
			t.Errorf("%s = %v (present: %v), want 1", series("cajon_worker_device_info", labels...), got, ok)
		}
	}
}
