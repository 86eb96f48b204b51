# tries: seek past 1 GB and write one byte
# expect: contained
# message: File too large
# after: big.bin file
python3 -c "f = open('big.bin', 'wb'); f.seek(2**30); f.write(b'x'); f.close()"
