package main

import (
	"path/filepath"
	"strings"
)

// imageTypes maps the extensions of the files Blender writes to MIME types.
// A fixed table rather than the system's: the answer must not depend on the
// machine's /etc/mime.types or registry.
var imageTypes = map[string]string{
	".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
	".exr": "image/x-exr", ".tif": "image/tiff", ".tiff": "image/tiff",
	".bmp": "image/bmp", ".tga": "image/x-tga", ".webp": "image/webp",
	".hdr": "image/vnd.radiance", ".jp2": "image/jp2", ".j2c": "image/x-j2c",
	".dpx": "image/x-dpx", ".cin": "image/x-cineon", ".rgb": "image/x-rgb",
	".mp4": "video/mp4", ".mkv": "video/x-matroska", ".avi": "video/x-msvideo",
	".mov": "video/quicktime", ".webm": "video/webm", ".ogv": "video/ogg",
	".mpg": "video/mpeg", ".mpeg": "video/mpeg", ".flv": "video/x-flv",
}

// mimeType is the MIME type of a file Blender wrote, "" when unknown.
func mimeType(path string) string {
	return imageTypes[strings.ToLower(filepath.Ext(path))]
}
