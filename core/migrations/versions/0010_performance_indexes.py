"""indexes for the unit performance figures (core.performance): the report times a
period is read by (closed, rated; created for readers by date), a case's arrival events

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""
from alembic import op


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

REPORT = (('ix_report_created', 'created_at'), ('ix_report_closed', 'closed_at'),
          ('ix_report_rated', 'rated_at'))
HOLDER = ['report_id', 'kind', 'unit_id', 'created_at']


def upgrade() -> None:
    with op.batch_alter_table('report', schema=None) as batch_op:
        for name, column in REPORT:
            batch_op.create_index(name, [column], unique=False)
    with op.batch_alter_table('case_event', schema=None) as batch_op:
        batch_op.create_index('ix_case_event_holder', HOLDER, unique=False)


def downgrade() -> None:
    with op.batch_alter_table('case_event', schema=None) as batch_op:
        batch_op.drop_index('ix_case_event_holder')
    with op.batch_alter_table('report', schema=None) as batch_op:
        for name, _ in reversed(REPORT):
            batch_op.drop_index(name)
