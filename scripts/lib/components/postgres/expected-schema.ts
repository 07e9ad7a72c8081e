// What verify-postgres expects sql/migrations to have produced. Kept next to the checks; the
// integration tests prove the migrations and this list agree.

export const EXPECTED_TABLES: Readonly<Record<string, readonly string[]>> = {
  users: ['id', 'email', 'password_hash', 'display_name', 'role', 'is_active', 'created_at', 'updated_at'],
  students: ['id', 'user_id', 'skill_level', 'created_at'],
  teachers: ['id', 'user_id', 'created_at'],
  topics: ['id', 'position', 'slug', 'title', 'description', 'difficulty'],
  exercises: ['id', 'topic_id', 'slug', 'title', 'prompt', 'difficulty'],
  submissions: ['id', 'student_id', 'exercise_id', 'code', 'status', 'score', 'created_at'],
  progress: ['id', 'student_id', 'topic_id', 'status', 'mastery'],
  chat_history: ['id', 'student_id', 'topic_id', 'role', 'content', 'created_at'],
  struggle_alerts: ['id', 'student_id', 'topic_id', 'reason', 'severity', 'status', 'resolved_by'],
};

/** table.column -> referenced table */
export const EXPECTED_FOREIGN_KEYS: Readonly<Record<string, string>> = {
  'students.user_id': 'users',
  'teachers.user_id': 'users',
  'exercises.topic_id': 'topics',
  'submissions.student_id': 'students',
  'submissions.exercise_id': 'exercises',
  'progress.student_id': 'students',
  'progress.topic_id': 'topics',
  'chat_history.student_id': 'students',
  'chat_history.topic_id': 'topics',
  'struggle_alerts.student_id': 'students',
  'struggle_alerts.topic_id': 'topics',
  'struggle_alerts.resolved_by': 'teachers',
};

export const CURRICULUM_TOPICS = 24;

/** Development logins from sql/migrations/0003_seed_test_users.sql (docs/postgres.md#test-logins). */
export const TEST_USERS: readonly { email: string; role: 'student' | 'teacher' | 'admin' }[] = [
  { email: 'dev.student@example.com', role: 'student' },
  { email: 'dev.teacher@example.com', role: 'teacher' },
  { email: 'dev.admin@example.com', role: 'admin' },
];
