CREATE DOMAIN note AS text DEFAULT 'check constraint';
