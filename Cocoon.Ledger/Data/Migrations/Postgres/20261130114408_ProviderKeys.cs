using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Cocoon.Ledger.Data.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class ProviderKeys : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "ProviderKey",
                table: "Providers",
                type: "character varying(64)",
                maxLength: 64,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "RevokedProviderKeys",
                table: "Providers",
                type: "character varying(8000)",
                maxLength: 8000,
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "ProviderKey",
                table: "Providers");

            migrationBuilder.DropColumn(
                name: "RevokedProviderKeys",
                table: "Providers");
        }
    }
}
