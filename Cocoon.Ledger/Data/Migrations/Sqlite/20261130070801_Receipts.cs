using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Cocoon.Ledger.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class Receipts : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "ReceiptAnchors",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    RootHex = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    LeafCount = table.Column<int>(type: "INTEGER", nullable: false),
                    MessageHash = table.Column<string>(type: "TEXT", maxLength: 64, nullable: true),
                    TransactionHash = table.Column<string>(type: "TEXT", maxLength: 64, nullable: true),
                    TransactionLt = table.Column<long>(type: "INTEGER", nullable: true),
                    FeeNanotons = table.Column<long>(type: "INTEGER", nullable: true),
                    CreatedAtMs = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_ReceiptAnchors", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "Receipts",
                columns: table => new
                {
                    RequestId = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                    Payer = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                    WorkerId = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                    SignedReceiptJson = table.Column<string>(type: "TEXT", nullable: false),
                    AttestationJson = table.Column<string>(type: "TEXT", nullable: false),
                    ChargedNanotons = table.Column<long>(type: "INTEGER", nullable: false),
                    CreatedAtMs = table.Column<long>(type: "INTEGER", nullable: false),
                    AnchorId = table.Column<long>(type: "INTEGER", nullable: true),
                    LeafIndex = table.Column<int>(type: "INTEGER", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_Receipts", x => x.RequestId);
                });

            migrationBuilder.CreateIndex(
                name: "IX_Receipts_Unanchored_CreatedAtMs",
                table: "Receipts",
                column: "CreatedAtMs",
                filter: "\"AnchorId\" IS NULL");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "ReceiptAnchors");

            migrationBuilder.DropTable(
                name: "Receipts");
        }
    }
}
