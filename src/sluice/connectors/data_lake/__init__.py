"""data_lake"""
