"""an index on inbox_item (channel, ingested_at) for the health figures

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_inbox_channel_time', 'inbox_item', ['channel', 'ingested_at'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_inbox_channel_time', table_name='inbox_item')
