package wire

import (
	"strings"
	"testing"
)

func TestCyclesDevice(t *testing.T) {
	tests := []struct {
		in, want, gpu, err string
	}{
		{in: "CUDA", want: "CUDA", gpu: "CUDA"},
		{in: "optix", want: "OPTIX", gpu: "OPTIX"},
		{in: " hip ", want: "HIP", gpu: "HIP"},
		{in: "ONEAPI", want: "ONEAPI", gpu: "ONEAPI"},
		{in: "Metal", want: "METAL", gpu: "METAL"},
		{in: "CPU", want: "CPU", gpu: ""},
		{in: "CUDA+CPU", want: "CUDA+CPU", gpu: "CUDA"},
		{in: "optix+cpu", want: "OPTIX+CPU", gpu: "OPTIX"},
		{in: "CPU+CPU", err: `"CPU+CPU" is not one Blender knows`},
		{in: "", err: `"" is not one Blender knows`},
		{in: "GPU", err: "use one of CPU, CUDA, OPTIX, HIP, ONEAPI, METAL"},
		{in: "CUDA OPTIX", err: "is not one Blender knows"},
		{in: "CUDA+", err: "is not one Blender knows"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := CyclesDevice(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("CyclesDevice(%q) = %q, %v; want an error with %q", tt.in, got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("CyclesDevice(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
			if g := CyclesGPU(got); g != tt.gpu {
				t.Errorf("CyclesGPU(%q) = %q, want %q", got, g, tt.gpu)
			}
			if v := GPUVisibilityVar(got); (v == "") != (tt.gpu == "" || tt.gpu == "METAL") {
				t.Errorf("GPUVisibilityVar(%q) = %q", got, v)
			}
		})
	}
}
