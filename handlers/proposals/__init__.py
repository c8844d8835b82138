"""民生微实事 proposals and rectifications: lifecycle, publicity and household votes."""
