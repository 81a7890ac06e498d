# Converts the old results logs to CSV (written for Python 2.7).
import sys
import cPickle

results = cPickle.load(open(sys.argv[1]))
for name, value in results.iteritems():
    print "%s,%f" % (name, value)
