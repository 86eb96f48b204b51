-- a value that spells a keyword is data, not a position
ALTER TYPE status ADD VALUE 'before';
