package signing

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// SSM is the part of the SSM client Sunset reads its secrets with.
type SSM interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, optFns ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
}

// Secret reads a SecureString parameter, decrypted.
func Secret(ctx context.Context, c SSM, name string) (string, error) {
	out, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name), WithDecryption: aws.Bool(true)})
	if err != nil {
		return "", fmt.Errorf("read SSM parameter %s: %w", name, err)
	}
	return aws.ToString(out.Parameter.Value), nil
}

// KeyringFromSSM reads the keyring kept in a SecureString parameter (ParseKeyring's form).
func KeyringFromSSM(ctx context.Context, c SSM, name string) (*Keyring, error) {
	text, err := Secret(ctx, c, name)
	if err != nil {
		return nil, err
	}
	r, err := ParseKeyring(text)
	if err != nil {
		return nil, fmt.Errorf("SSM parameter %s: %w", name, err)
	}
	return r, nil
}
