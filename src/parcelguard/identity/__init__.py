"""Identity: ID documents (身份证件), and later the sender real-name registry and real-name QR tokens."""
