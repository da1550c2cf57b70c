using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Cocoon.Ledger.Chain.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class ChainInitial : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "ton_cursors",
                columns: table => new
                {
                    Account = table.Column<string>(type: "TEXT", maxLength: 80, nullable: false),
                    Lt = table.Column<long>(type: "INTEGER", nullable: false),
                    TransactionHash = table.Column<string>(type: "TEXT", maxLength: 64, nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_ton_cursors", x => x.Account);
                });

            migrationBuilder.CreateTable(
                name: "ton_deposits",
                columns: table => new
                {
                    TransactionHash = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    Lt = table.Column<long>(type: "INTEGER", nullable: false),
                    Source = table.Column<string>(type: "TEXT", maxLength: 80, nullable: false),
                    Amount = table.Column<long>(type: "INTEGER", nullable: false),
                    Comment = table.Column<string>(type: "TEXT", nullable: true),
                    InvoiceId = table.Column<Guid>(type: "TEXT", nullable: true),
                    Account = table.Column<string>(type: "TEXT", maxLength: 128, nullable: true),
                    Outcome = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    SeenAt = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_ton_deposits", x => x.TransactionHash);
                });

            migrationBuilder.CreateTable(
                name: "ton_invoices",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "TEXT", nullable: false),
                    Comment = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    Account = table.Column<string>(type: "TEXT", maxLength: 128, nullable: false),
                    AmountDue = table.Column<long>(type: "INTEGER", nullable: false),
                    AmountReceived = table.Column<long>(type: "INTEGER", nullable: false),
                    Status = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    CreatedAt = table.Column<long>(type: "INTEGER", nullable: false),
                    PaidAt = table.Column<long>(type: "INTEGER", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_ton_invoices", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "ton_payout_batches",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "TEXT", nullable: false),
                    Wallet = table.Column<string>(type: "TEXT", maxLength: 80, nullable: false),
                    Seqno = table.Column<long>(type: "INTEGER", nullable: false),
                    ValidUntil = table.Column<long>(type: "INTEGER", nullable: false),
                    Boc = table.Column<byte[]>(type: "BLOB", nullable: false),
                    MessageHash = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    WalletLtBefore = table.Column<long>(type: "INTEGER", nullable: false),
                    Status = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    TransactionHash = table.Column<string>(type: "TEXT", maxLength: 64, nullable: true),
                    CreatedAt = table.Column<long>(type: "INTEGER", nullable: false),
                    ConfirmedAt = table.Column<long>(type: "INTEGER", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_ton_payout_batches", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "ton_payouts",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "TEXT", nullable: false),
                    IdempotencyKey = table.Column<string>(type: "TEXT", maxLength: 128, nullable: false),
                    Provider = table.Column<string>(type: "TEXT", maxLength: 128, nullable: false),
                    Destination = table.Column<string>(type: "TEXT", maxLength: 80, nullable: false),
                    Amount = table.Column<long>(type: "INTEGER", nullable: false),
                    Status = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    BatchId = table.Column<Guid>(type: "TEXT", nullable: true),
                    Error = table.Column<string>(type: "TEXT", nullable: true),
                    CreatedAt = table.Column<long>(type: "INTEGER", nullable: false),
                    ConfirmedAt = table.Column<long>(type: "INTEGER", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_ton_payouts", x => x.Id);
                });

            migrationBuilder.CreateIndex(
                name: "IX_ton_deposits_InvoiceId",
                table: "ton_deposits",
                column: "InvoiceId");

            migrationBuilder.CreateIndex(
                name: "IX_ton_invoices_Account",
                table: "ton_invoices",
                column: "Account");

            migrationBuilder.CreateIndex(
                name: "IX_ton_invoices_Comment",
                table: "ton_invoices",
                column: "Comment",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_ton_payout_batches_Status",
                table: "ton_payout_batches",
                column: "Status");

            migrationBuilder.CreateIndex(
                name: "IX_ton_payouts_BatchId",
                table: "ton_payouts",
                column: "BatchId");

            migrationBuilder.CreateIndex(
                name: "IX_ton_payouts_IdempotencyKey",
                table: "ton_payouts",
                column: "IdempotencyKey",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_ton_payouts_Status_CreatedAt",
                table: "ton_payouts",
                columns: new[] { "Status", "CreatedAt" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "ton_cursors");

            migrationBuilder.DropTable(
                name: "ton_deposits");

            migrationBuilder.DropTable(
                name: "ton_invoices");

            migrationBuilder.DropTable(
                name: "ton_payout_batches");

            migrationBuilder.DropTable(
                name: "ton_payouts");
        }
    }
}
