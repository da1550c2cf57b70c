using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Cocoon.Ledger.Data.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class Providers : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "Providers",
                columns: table => new
                {
                    ProviderId = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    Name = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    TelegramUserId = table.Column<long>(type: "bigint", nullable: true),
                    PayoutAddress = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: true),
                    Contact = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: true),
                    Paused = table.Column<bool>(type: "boolean", nullable: false),
                    PriceCoefficient = table.Column<int>(type: "integer", nullable: true),
                    TokenSha256 = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    CreatedAtMs = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_Providers", x => x.ProviderId);
                });

            migrationBuilder.CreateIndex(
                name: "IX_Providers_TelegramUserId",
                table: "Providers",
                column: "TelegramUserId");

            migrationBuilder.CreateIndex(
                name: "IX_Providers_TokenSha256",
                table: "Providers",
                column: "TokenSha256",
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "Providers");
        }
    }
}
