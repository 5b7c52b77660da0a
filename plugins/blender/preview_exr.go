package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// A multilayer EXR (Blender's OPEN_EXR_MULTILAYER) names its channels
// "<view layer>.<pass>.<channel>", e.g. "ViewLayer.Combined.R". FFmpeg
// decodes only plain R, G, B, A channels unless told which layer to read
// (its EXR decoder's -layer option), so the preview of such a frame reads
// the header to find the combined layer.

// exrMagic opens every OpenEXR file.
var exrMagic = []byte{0x76, 0x2f, 0x31, 0x01}

// Limits on reading an EXR header: it is small; anything past these is not
// a header worth reading for a preview.
const (
	exrMaxHeaderBytes = 1 << 20
	exrMaxAttrBytes   = 256 << 10
	exrMaxNameBytes   = 256
)

// exrMultipart is the version field's flag of a multi-part file.
const exrMultipart = 0x1000

// exrChannels returns the channel names of an EXR file's (first) header.
func exrChannels(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := bufio.NewReader(io.LimitReader(f, exrMaxHeaderBytes))
	var head [8]byte
	if _, err := io.ReadFull(r, head[:]); err != nil || !bytes.Equal(head[:4], exrMagic) {
		return nil, errors.New("not an OpenEXR file")
	}
	if binary.LittleEndian.Uint32(head[4:])&exrMultipart != 0 {
		return nil, errors.New("a multi-part OpenEXR file, which FFmpeg does not read")
	}
	for {
		name, err := exrString(r)
		if err != nil {
			return nil, fmt.Errorf("reading the OpenEXR header: %w", err)
		}
		if name == "" {
			return nil, errors.New("the OpenEXR header has no channel list")
		}
		typ, err := exrString(r)
		if err != nil {
			return nil, fmt.Errorf("reading the OpenEXR header: %w", err)
		}
		var size int32
		if err := binary.Read(r, binary.LittleEndian, &size); err != nil {
			return nil, fmt.Errorf("reading the OpenEXR header: %w", err)
		}
		if size < 0 || size > exrMaxAttrBytes {
			return nil, fmt.Errorf("the OpenEXR header's %s attribute has an unlikely size (%d bytes)", name, size)
		}
		value := make([]byte, size)
		if _, err := io.ReadFull(r, value); err != nil {
			return nil, fmt.Errorf("reading the OpenEXR header: %w", err)
		}
		if name == "channels" && typ == "chlist" {
			return exrChannelList(value)
		}
	}
}

// exrChannelList reads a chlist value: per channel its name, then 16 bytes
// (pixel type, linear flag, reserved, x and y sampling); an empty name ends it.
func exrChannelList(b []byte) ([]string, error) {
	var names []string
	for {
		end := bytes.IndexByte(b, 0)
		if end < 0 {
			return nil, errors.New("the OpenEXR channel list is cut short")
		}
		if end == 0 {
			return names, nil
		}
		names = append(names, string(b[:end]))
		if len(b) < end+1+16 {
			return nil, errors.New("the OpenEXR channel list is cut short")
		}
		b = b[end+1+16:]
	}
}

// exrString reads a NUL-terminated attribute name or type.
func exrString(r *bufio.Reader) (string, error) {
	var sb strings.Builder
	for {
		c, err := r.ReadByte()
		if err != nil {
			return "", err
		}
		if c == 0 {
			return sb.String(), nil
		}
		if sb.Len() >= exrMaxNameBytes {
			return "", errors.New("an attribute name is too long")
		}
		sb.WriteByte(c)
	}
}

// exrPreviewLayer picks the layer a preview shows from an EXR's channels:
// "" when plain R, G and B channels exist (FFmpeg reads them as they are),
// else the combined pass of the first view layer ("ViewLayer.Combined"),
// else the first layer that has R, G and B. false: none has.
func exrPreviewLayer(channels []string) (string, bool) {
	rgb := map[string]int{} // layer -> how many of R, G, B it has
	var order []string
	for _, c := range channels {
		layer, ch := "", c
		if i := strings.LastIndexByte(c, '.'); i >= 0 {
			layer, ch = c[:i], c[i+1:]
		}
		if ch != "R" && ch != "G" && ch != "B" {
			continue
		}
		if _, seen := rgb[layer]; !seen {
			order = append(order, layer)
		}
		rgb[layer]++
	}
	var first string
	found := false
	for _, layer := range order {
		if rgb[layer] != 3 {
			continue
		}
		if layer == "" {
			return "", true
		}
		if layer == "Combined" || strings.HasSuffix(layer, ".Combined") {
			return layer, true
		}
		if !found {
			first, found = layer, true
		}
	}
	return first, found
}
