DROP TRIGGER prompts_sync_others ON prompts;
DROP TRIGGER team_members_sync_others ON team_members;
DROP TRIGGER sync_tombstones_sync_others ON sync_tombstones;
DROP FUNCTION team_sync_others_bump();
DROP TABLE team_sync_others;
