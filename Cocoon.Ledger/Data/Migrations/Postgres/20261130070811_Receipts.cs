using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace Cocoon.Ledger.Data.Migrations.Postgres
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
                    Id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    RootHex = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    LeafCount = table.Column<int>(type: "integer", nullable: false),
                    MessageHash = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    TransactionHash = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    TransactionLt = table.Column<long>(type: "bigint", nullable: true),
                    FeeNanotons = table.Column<long>(type: "bigint", nullable: true),
                    CreatedAtMs = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_ReceiptAnchors", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "Receipts",
                columns: table => new
                {
                    RequestId = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    Payer = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    WorkerId = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    SignedReceiptJson = table.Column<string>(type: "text", nullable: false),
                    AttestationJson = table.Column<string>(type: "text", nullable: false),
                    ChargedNanotons = table.Column<long>(type: "bigint", nullable: false),
                    CreatedAtMs = table.Column<long>(type: "bigint", nullable: false),
                    AnchorId = table.Column<long>(type: "bigint", nullable: true),
                    LeafIndex = table.Column<int>(type: "integer", nullable: true)
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
