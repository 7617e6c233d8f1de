"""a report's confidentiality and its ID in an outside system (LAPOR!); a channel's
last delivery; one recipient's items in order

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.add_column(sa.Column('confidential', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('external_ref', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_report_external_ref'), ['external_ref'], unique=False)
    with op.batch_alter_table('outbox_item', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_channel_sent', ['channel', 'sent_at'], unique=False)
        batch_op.create_index('ix_outbox_recipient', ['channel', 'recipient', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('outbox_item', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_recipient')
        batch_op.drop_index('ix_outbox_channel_sent')
    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_external_ref'))
        batch_op.drop_column('external_ref')
        batch_op.drop_column('confidential')
