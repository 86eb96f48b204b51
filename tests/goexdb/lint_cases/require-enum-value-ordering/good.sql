ALTER TYPE status ADD VALUE 'pending_review' BEFORE 'approved';
-- a value that merely spells a keyword is still data
ALTER TYPE status ADD VALUE 'after' AFTER 'submitted';
