"""units (kelurahan, kecamatan, kota, dinas, biro, suku dinas, Inspektorat) and the unit
of a staff account

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('unit',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('parent_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('kota_code', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
    sa.Column('area_code', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['unit.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('unit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_unit_kind'), ['kind'], unique=False)
    # SQLite rebuilds the table (batch mode) to add the foreign key
    with op.batch_alter_table('staff_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unit_id', sqlmodel.sql.sqltypes.AutoString(length=64),
                                      nullable=True))
        batch_op.create_foreign_key('fk_staff_account_unit_id', 'unit', ['unit_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('staff_account', schema=None) as batch_op:
        batch_op.drop_constraint('fk_staff_account_unit_id', type_='foreignkey')
        batch_op.drop_column('unit_id')
    with op.batch_alter_table('unit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_unit_kind'))
    op.drop_table('unit')
