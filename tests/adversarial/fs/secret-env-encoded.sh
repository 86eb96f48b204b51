# tries: print .env hex-encoded, past any masking of known values
# expect: contained
# message: Permission denied
# absent: {{secret_hex}}
# absent: {{secret}}
python3 -c "print(open('.env', 'rb').read().hex())"; base64 id_rsa; rev cert.pem
