-- The schema registry (Apicurio Registry, SQL storage) keeps its schemas in a database of its own.
CREATE DATABASE registry;
