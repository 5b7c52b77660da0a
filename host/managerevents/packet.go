package managerevents

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/cajonfarm/cajon/sdk/phrase"
)

// Kind is what an Engine.IO 3 packet (and, for messages, the Socket.IO 2
// packet inside it) is. Only the kinds a Flamenco Manager sends or takes
// are named; the rest parse as errors.
type Kind int

// Packet kinds. The comments give the packet's first characters on the wire.
const (
	KindOpen       Kind = iota + 1 // "0{...}": the handshake (sid, ping timings)
	KindClose                      // "1"
	KindPing                       // "2"
	KindPong                       // "3"
	KindConnect                    // "40": the default namespace is connected
	KindDisconnect                 // "41"
	KindEvent                      // "42[name,payload]", or "42<id>[...]" asking for an ack
	KindAck                        // "43<id>[...]"
	KindError                      // "44..."
	KindNoop                       // "6"
)

func (k Kind) String() string {
	switch k {
	case KindOpen:
		return "open"
	case KindClose:
		return "close"
	case KindPing:
		return "ping"
	case KindPong:
		return "pong"
	case KindConnect:
		return "connect"
	case KindDisconnect:
		return "disconnect"
	case KindEvent:
		return "event"
	case KindAck:
		return "ack"
	case KindError:
		return "error"
	case KindNoop:
		return "noop"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Packet is one parsed text frame of the stream.
type Packet struct {
	Kind Kind
	// AckID is the ack number of an event that asks for one, or of an ack;
	// -1 when there is none.
	AckID int
	// Name is an event's name ("/jobs", "/task", ...).
	Name string
	// Args are an event's arguments after its name, or an ack's arguments.
	Args []json.RawMessage
	// Data is the open packet's JSON handshake, or an error packet's text.
	Data []byte
}

// Handshake is the open packet's JSON.
type Handshake struct {
	SID          string `json:"sid"`
	PingInterval int    `json:"pingInterval"` // ms
	PingTimeout  int    `json:"pingTimeout"`  // ms
}

// maxFrameBytes bounds one frame from the Manager; its largest events (a job
// update with its settings left out) are a few KiB.
const maxFrameBytes = 1 << 20

// errBadPacket is wrapped by every parse error.
var errBadPacket = errors.New("not a Socket.IO 2 / Engine.IO 3 packet")

// ParsePacket parses one websocket text frame.
func ParsePacket(frame []byte) (Packet, error) {
	p := Packet{AckID: -1}
	if len(frame) == 0 {
		return p, fmt.Errorf("%w: empty frame", errBadPacket)
	}
	if len(frame) > maxFrameBytes {
		return p, fmt.Errorf("%w: frame of %d bytes, more than %d", errBadPacket, len(frame), maxFrameBytes)
	}
	rest := frame[1:]
	switch frame[0] {
	case '0':
		var h Handshake
		if err := json.Unmarshal(rest, &h); err != nil {
			return p, fmt.Errorf("%w: open packet: %v", errBadPacket, err)
		}
		p.Kind, p.Data = KindOpen, rest
		return p, nil
	case '1':
		p.Kind = KindClose
	case '2':
		p.Kind = KindPing
	case '3':
		p.Kind = KindPong
	case '6':
		p.Kind = KindNoop
	case '4':
		return parseMessage(p, rest)
	default:
		return p, fmt.Errorf("%w: unknown packet type %q", errBadPacket, frame[0])
	}
	// Ping and pong may carry a probe text; nothing else matters here.
	return p, nil
}

// parseMessage parses the Socket.IO packet inside an Engine.IO message.
func parseMessage(p Packet, b []byte) (Packet, error) {
	if len(b) == 0 {
		return p, fmt.Errorf("%w: empty message", errBadPacket)
	}
	kind, rest := b[0], b[1:]
	// A namespace other than the default one: "/nsp,"; the Manager has none.
	if len(rest) > 0 && rest[0] == '/' {
		i := bytes.IndexByte(rest, ',')
		if i < 0 {
			return p, fmt.Errorf("%w: namespace without a comma", errBadPacket)
		}
		return p, fmt.Errorf("%w: namespace %q (the Manager only uses the default one)", errBadPacket, rest[:i])
	}
	switch kind {
	case '0':
		p.Kind = KindConnect
		return p, nil
	case '1':
		p.Kind = KindDisconnect
		return p, nil
	case '4':
		p.Kind, p.Data = KindError, rest
		return p, nil
	case '2':
		p.Kind = KindEvent
	case '3':
		p.Kind = KindAck
	default:
		return p, fmt.Errorf("%w: unknown message type %q", errBadPacket, kind)
	}
	digits := 0
	for digits < len(rest) && rest[digits] >= '0' && rest[digits] <= '9' {
		digits++
	}
	if digits > 0 {
		id, err := strconv.Atoi(string(rest[:digits]))
		if err != nil || digits > 9 {
			return p, fmt.Errorf("%w: ack id %q", errBadPacket, rest[:digits])
		}
		p.AckID = id
	}
	var args []json.RawMessage
	if err := json.Unmarshal(rest[digits:], &args); err != nil {
		return p, fmt.Errorf("%w: %s arguments: %v", errBadPacket, p.Kind, err)
	}
	if p.Kind == KindAck {
		if p.AckID < 0 {
			return p, fmt.Errorf("%w: ack without an id", errBadPacket)
		}
		p.Args = args
		return p, nil
	}
	if len(args) == 0 {
		return p, fmt.Errorf("%w: event without a name", errBadPacket)
	}
	if err := json.Unmarshal(args[0], &p.Name); err != nil {
		return p, fmt.Errorf("%w: event name is not a string: %s", errBadPacket, phrase.Cut(string(args[0]), shownBytes))
	}
	p.Args = args[1:]
	return p, nil
}

// EncodeEvent makes the text frame of an event; ackID >= 0 asks for an ack.
func EncodeEvent(name string, ackID int, payload any) ([]byte, error) {
	args, err := json.Marshal([]any{name, payload})
	if err != nil {
		return nil, fmt.Errorf("encoding the %s event: %w", name, err)
	}
	b := []byte("42")
	if ackID >= 0 {
		b = strconv.AppendInt(b, int64(ackID), 10)
	}
	return append(b, args...), nil
}

// shownBytes is how much of a malformed packet an error message shows.
const shownBytes = 80
