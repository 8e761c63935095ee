package integrations

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/codedefender/integrations/internal/strictjson"
	"github.com/codedefender/integrations/internal/text"
	"github.com/codedefender/integrations/internal/validate"
	"github.com/codedefender/integrations/notify"
)

// Mask returns the display form of a stored integration,
// {"type": "...", "config": {...}}: the same integration with every secret
// masked ([REDACTED], or "" where none is set), which is what a console
// shows and what its form sends back for Merge. The config is exactly the
// bytes json.Marshal of the type's Config gives.
//
// The stored JSON is decoded as Build decodes it: an unknown type or an
// unknown field is a *notify.ValidationError naming it ("type",
// "config.colour"). Mask does not Validate.
func Mask(stored []byte) ([]byte, error) {
	typ, cfg, err := decode(stored)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(cfg.Interface())
	if err != nil {
		return nil, fmt.Errorf("integrations: %s: %w", typ, err)
	}
	return json.Marshal(notify.Integration{Type: typ, Config: b})
}

// decodeEnvelope reads {"type": "...", "config": {...}} and checks that the
// type is known and the config present.
func decodeEnvelope(data []byte) (notify.Integration, error) {
	var in notify.Integration
	if err := strictjson.Decode(data, &in); err != nil {
		var se *strictjson.Error
		if errors.As(err, &se) {
			return in, fieldError(se.Field, se.Message)
		}
		return in, err
	}
	if _, ok := configTypes[in.Type]; !ok {
		return in, fieldError("type", fmt.Sprintf("unknown integration type %q (known: %s)", text.Truncate(in.Type, 40), strings.Join(Types(), ", ")))
	}
	if len(in.Config) == 0 {
		return in, fieldError("config", "is required")
	}
	return in, nil
}

// decode reads a stored integration into a new value of its type's Config,
// returning the type and an addressable reflect.Value of the Config.
func decode(data []byte) (string, reflect.Value, error) {
	in, err := decodeEnvelope(data)
	if err != nil {
		return "", reflect.Value{}, err
	}
	cfg, err := decodeConfig(in)
	return in.Type, cfg, err
}

// decodeConfig decodes in.Config strictly into its type's Config. Field
// paths in errors sit under "config", as Build names them.
func decodeConfig(in notify.Integration) (reflect.Value, error) {
	p := reflect.New(configTypes[in.Type])
	if err := validate.DecodeConfig(in.Config, p.Interface()); err != nil {
		var ve *notify.ValidationError
		if !errors.As(err, &ve) {
			return reflect.Value{}, err
		}
		var errs validate.Errors
		for _, f := range ve.Fields {
			if f.Field != "config" { // DecodeConfig's name for the whole object
				f.Field = "config." + f.Field
			}
			errs.Add(f.Field, f.Message)
		}
		return reflect.Value{}, errs.Err()
	}
	return p.Elem(), nil
}

func fieldError(field, message string) error {
	return &notify.ValidationError{Fields: []notify.FieldError{{Field: field, Message: message}}}
}
