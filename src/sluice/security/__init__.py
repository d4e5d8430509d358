"""Keys, token signing, secret hashing and encryption of connection credentials."""
