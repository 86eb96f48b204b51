# tries: print the environment: goex secrets, the model key, goex's home and state paths
# expect: contained
# message: [REDACTED:GOEX_SECRET_ADV]
# env: GOEX_SECRET_ADV={{secret}}
# env: OPENAI_API_KEY=sk-goex-adv-not-a-real-key-000000
# absent: {{secret}}
# absent: sk-goex-adv-not-a-real-key
# absent: {{home}}
env; echo "token=$GOEX_SECRET_ADV"
