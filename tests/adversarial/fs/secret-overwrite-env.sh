# tries: replace the project's .env and key with the attacker's
# expect: contained
# message: Device or resource busy
echo API_TOKEN=attacker > .env; mv id_rsa stolen; rm -f cert.pem
