"""The records stores of the queue backends: the contract (base.py: ``Records``), a
store in a SQLite file (sqlite.py, with its schema, file and chores beside it) and one
in Redis (redis.py, its Lua scripts in redis_scripts.py); what their faults mean to a
user (errors.py). Import the store you need from its module: the Redis one loads redis.
"""
