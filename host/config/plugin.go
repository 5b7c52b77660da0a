package config

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// DecodePluginTable decodes the [plugins.<name>] table of one plugin into v (a
// pointer to a struct with `toml` tags), strictly: a key that v has no field for is
// an error naming plugins.<name>.<key>. A nil table leaves v as it is.
func DecodePluginTable(name string, table map[string]any, v any) error {
	if len(table) == 0 {
		return nil
	}
	data, err := toml.Marshal(table)
	if err != nil {
		return fmt.Errorf("plugins.%s: %w", name, err)
	}
	err = decodeStrict(data, v)
	var strictErr *toml.StrictMissingError
	if errors.As(err, &strictErr) {
		errs := make([]error, 0, len(strictErr.Errors))
		for i := range strictErr.Errors {
			key := strings.Join(strictErr.Errors[i].Key(), ".")
			errs = append(errs, fmt.Errorf("plugins.%s.%s: unknown key", name, key))
		}
		return errors.Join(errs...)
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		key := strings.Join(de.Key(), ".")
		return fmt.Errorf("plugins.%s.%s: %s", name, key, strings.TrimPrefix(de.Error(), "toml: "))
	}
	if err != nil {
		return fmt.Errorf("plugins.%s: %w", name, err)
	}
	return nil
}
