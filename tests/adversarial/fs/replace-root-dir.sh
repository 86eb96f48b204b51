# tries: remove the project directory itself and put a new one in its place
# expect: rejected
# message: matches denied path
cd / && rm -rf {{root}}; mkdir -p {{root}} && echo replaced > {{root}}/new.txt
