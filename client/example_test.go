package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/readonce/readonce/client"
)

// exampleServer is a readonce server for the examples (the real one,
// embedded store, on loopback); it lives as long as the test binary.
func exampleServer() string {
	base, _, err := serve(nil)
	if err != nil {
		log.Fatal(err)
	}
	return base
}

func Example() {
	c, err := client.New(exampleServer(), nil, "")
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	created, err := c.Create(ctx, "hunter2", client.CreateOptions{})
	if err != nil {
		log.Fatal(err)
	}
	secret, err := c.Reveal(ctx, created.ShareURL)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(secret.Text)
	_, err = c.Reveal(ctx, created.AccessKey)
	fmt.Println(errors.Is(err, client.ErrNotFound))
	// Output:
	// hunter2
	// true
}

func ExampleClient_RevealWithPassphrase() {
	c, _ := client.New(exampleServer(), nil, "")
	ctx := context.Background()
	created, _ := c.Create(ctx, "the vault code", client.CreateOptions{Passphrase: "said on the phone"})
	_, err := c.RevealWithPassphrase(ctx, created.AccessKey, "a typo")
	var wrong *client.PassphraseError
	if errors.As(err, &wrong) {
		fmt.Println("wrong passphrase, attempts left:", wrong.AttemptsLeft)
	}
	secret, _ := c.RevealWithPassphrase(ctx, created.AccessKey, "said on the phone")
	fmt.Println(secret.Text)
	// Output:
	// wrong passphrase, attempts left: 4
	// the vault code
}

func ExampleClient_CreateFile() {
	c, _ := client.New(exampleServer(), nil, "")
	ctx := context.Background()
	created, _ := c.CreateFile(ctx, client.File{Name: "prod.env", Data: []byte("DB_PASSWORD=s3cr3t\n")}, client.CreateOptions{Receipt: true})
	secret, _ := c.Reveal(ctx, created.AccessKey)
	fmt.Printf("%s: %q\n", secret.File.Name, secret.File.Data)
	receipt, _ := c.Receipt(ctx, created.ReceiptToken)
	fmt.Println(receipt.State)
	// Output:
	// prod.env: "DB_PASSWORD=s3cr3t\n"
	// revealed
}

// End-to-end: the server stores only ciphertext, and the share link's
// fragment carries the key. The link opens here, in the share page and
// with `readonce get`; without its key part it cannot be decrypted.
func ExampleCreateOptions_endToEnd() {
	c, _ := client.New(exampleServer(), nil, "")
	ctx := context.Background()
	created, _ := c.Create(ctx, "never seen by the server", client.CreateOptions{EndToEnd: true})
	_, clientKey, _ := client.ParseLink(created.ShareURL)
	fmt.Println(created.EndToEnd, len(clientKey))
	secret, _ := c.Reveal(ctx, created.ShareURL)
	fmt.Println(secret.Text)

	created, _ = c.Create(ctx, "lost with its key", client.CreateOptions{EndToEnd: true})
	_, err := c.Reveal(ctx, created.AccessKey) // the key part left out
	var undecryptable *client.DecryptError
	fmt.Println(errors.As(err, &undecryptable), undecryptable.MissingKey)
	// Output:
	// true 43
	// never seen by the server
	// true true
}
