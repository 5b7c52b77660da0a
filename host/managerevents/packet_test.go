package managerevents

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/cajonfarm/cajon/internal/flamencotrace"
)

func TestParsePacket(t *testing.T) {
	tests := []struct {
		frame string
		want  Packet
		err   string
	}{
		{frame: `0{"sid":"x","upgrades":[],"pingInterval":30000,"pingTimeout":60000}`,
			want: Packet{Kind: KindOpen, AckID: -1}},
		{frame: "40", want: Packet{Kind: KindConnect, AckID: -1}},
		{frame: "41", want: Packet{Kind: KindDisconnect, AckID: -1}},
		{frame: "2", want: Packet{Kind: KindPing, AckID: -1}},
		{frame: "3probe", want: Packet{Kind: KindPong, AckID: -1}},
		{frame: "1", want: Packet{Kind: KindClose, AckID: -1}},
		{frame: "6", want: Packet{Kind: KindNoop, AckID: -1}},
		{frame: `431["ok"]`, want: Packet{Kind: KindAck, AckID: 1}},
		{frame: `42["/status",{"status":"idle"}]`, want: Packet{Kind: KindEvent, AckID: -1, Name: "/status"}},
		{frame: `4212["/jobs",{}]`, want: Packet{Kind: KindEvent, AckID: 12, Name: "/jobs"}},
		{frame: `44"oops"`, want: Packet{Kind: KindError, AckID: -1}},

		{frame: "", err: "empty frame"},
		{frame: "9", err: "unknown packet type"},
		{frame: "0not json", err: "open packet"},
		{frame: "4", err: "empty message"},
		{frame: "47", err: "unknown message type"},
		{frame: `42/admin,["x"]`, err: "namespace"},
		{frame: `42/admin`, err: "namespace without a comma"},
		{frame: `42{"a":1}`, err: "arguments"},
		{frame: `42[]`, err: "without a name"},
		{frame: `42[7,{}]`, err: "not a string"},
		{frame: `43["ok"]`, err: "ack without an id"},
		{frame: `421234567890["x"]`, err: "ack id"},
		{frame: "42" + strings.Repeat(" ", maxFrameBytes), err: "more than"},
	}
	for _, tt := range tests {
		t.Run(tt.frame[:min(len(tt.frame), 30)], func(t *testing.T) {
			got, err := ParsePacket([]byte(tt.frame))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParsePacket(%q) error = %v, want one containing %q", tt.frame, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePacket(%q): %v", tt.frame, err)
			}
			if got.Kind != tt.want.Kind || got.AckID != tt.want.AckID || got.Name != tt.want.Name {
				t.Errorf("ParsePacket(%q) = %v ack %d name %q, want %v ack %d name %q",
					tt.frame, got.Kind, got.AckID, got.Name, tt.want.Kind, tt.want.AckID, tt.want.Name)
			}
		})
	}
}

// TestParseRecordedFrames parses every frame the real Manager sent, and
// makes the frames the client sent the same way the recording did.
func TestParseRecordedFrames(t *testing.T) {
	frames, err := flamencotrace.SocketIO("echo-sleep-cancel")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range frames {
		if f.Dir == "send" {
			pk, err := ParsePacket([]byte(f.Text))
			if err != nil || pk.Kind != KindEvent || pk.Name != "/subscription" {
				t.Errorf("recorded subscription %q parses as %+v, %v", f.Text, pk, err)
				continue
			}
			var sub subscription
			if err := json.Unmarshal(pk.Args[0], &sub); err != nil {
				t.Fatal(err)
			}
			again, err := EncodeEvent("/subscription", pk.AckID, sub)
			if err != nil || string(again) != f.Text {
				t.Errorf("EncodeEvent = %s, %v; the recording sent %s", again, err, f.Text)
			}
			continue
		}
		if _, err := ParsePacket([]byte(f.Text)); err != nil {
			t.Errorf("frame %q of the real Manager: %v", f.Text, err)
		}
	}
	var h Handshake
	pk, _ := ParsePacket([]byte(frames[0].Text))
	if err := json.Unmarshal(pk.Data, &h); err != nil || h.PingInterval != 30000 || h.PingTimeout != 60000 || h.SID == "" {
		t.Errorf("handshake %s: %+v, %v", pk.Data, h, err)
	}
}

func FuzzParsePacket(f *testing.F) {
	for _, s := range []string{"0{}", "40", "2", "3", `431["ok"]`, `42["/jobs",{"id":"a","status":"queued"}]`, `42/x,[]`, "44x", ""} {
		f.Add([]byte(s))
	}
	frames, err := flamencotrace.SocketIO("echo-sleep-cancel")
	if err != nil {
		f.Fatal(err)
	}
	for _, fr := range frames {
		f.Add([]byte(fr.Text))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		pk, err := ParsePacket(frame)
		if err != nil {
			return
		}
		if pk.Kind < KindOpen || pk.Kind > KindNoop {
			t.Fatalf("kind %d out of range for %q", pk.Kind, frame)
		}
		if pk.Kind == KindEvent {
			// An event parsed once survives a round trip through EncodeEvent.
			var payload any = nil
			if len(pk.Args) > 0 {
				payload = pk.Args[0]
			}
			again, err := EncodeEvent(pk.Name, pk.AckID, payload)
			if err != nil {
				t.Fatalf("EncodeEvent of parsed %q: %v", frame, err)
			}
			back, err := ParsePacket(again)
			if err != nil || back.Name != pk.Name || back.AckID != pk.AckID {
				t.Fatalf("round trip of %q: %q parses as %+v, %v", frame, again, back, err)
			}
		}
	})
}
