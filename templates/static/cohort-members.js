// The cohort form's list of partners: a search box that narrows the list to the names containing what is typed,
// and how many are chosen. Without this script the list is whole and works the same; nothing depends on it.
const box = document.getElementById("member-search-box");
const search = document.getElementById("member-search");
const list = document.getElementById("organisation_ids");
const count = document.getElementById("member-count");
if (box && search && list) {
  box.hidden = false;
  const shown = () => {
    const wanted = search.value.trim().toLowerCase();
    for (const option of list.options) {
      option.hidden = wanted !== "" && !option.textContent.toLowerCase().includes(wanted) && !option.selected;
    }
  };
  const counted = () => {
    if (!count) return;
    const chosen = list.selectedOptions.length;
    count.hidden = false;
    count.textContent = `${chosen} chosen from the list`;
  };
  search.addEventListener("input", shown);
  list.addEventListener("change", counted);
  counted();
}
