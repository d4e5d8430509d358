"""sql_database"""
