# tries: print the environment: goex secrets, the model key, goex's home (also on its PATH)
# expect: contained
# message: [REDACTED:GOEX_SECRET_ADV]
# env: GOEX_SECRET_ADV={{secret}}
# env: OPENAI_API_KEY=sk-goex-adv-not-a-real-key-000000
# env: PATH={{home}}/.local/bin:.:/usr/local/bin:/usr/bin:/bin
# absent: {{secret}}
# absent: sk-goex-adv-not-a-real-key
# absent: {{home}}
env; echo "token=$GOEX_SECRET_ADV"
