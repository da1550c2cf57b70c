using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Cocoon.Ledger.Data.Migrations.Sqlite
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
                type: "TEXT",
                maxLength: 64,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "RevokedProviderKeys",
                table: "Providers",
                type: "TEXT",
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
