# tries: print the project's .env, private key and certificate
# expect: contained
# message: Permission denied
# absent: {{secret}}
cat .env id_rsa cert.pem; grep -r API_TOKEN . 2>/dev/null
