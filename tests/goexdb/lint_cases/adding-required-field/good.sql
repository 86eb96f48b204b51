ALTER TABLE recipe ADD COLUMN public boolean NOT NULL DEFAULT false;
ALTER TABLE recipe ADD COLUMN shown boolean;
